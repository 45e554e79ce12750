*** Settings ***
Documentation       QA-10: the WELCOME10 code takes 10 % off the cart.
Resource            ../../resources/shop.resource
Suite Setup         Open Shop Session
Suite Teardown      Close Shop Session


*** Test Cases ***
Welcome Code Takes Ten Percent Off
    [Documentation]    WELCOME10 reduces the cart total by 10 %.
    [Tags]    QA-10    cart
    Given The user "nina" is logged in
    And The cart contains "2" of "Blue T-Shirt"
    When Apply Discount Code    WELCOME10
    Then Cart Total Should Be    35.98

Unknown Code Is Rejected
    [Documentation]    A code the shop does not know is refused and the total is unchanged.
    [Tags]    QA-10    cart
    Given The user "oscar" is logged in
    And The cart contains "1" of "Coffee Mug"
    Then Discount Code Should Be Rejected With Message    NOPE    Unknown discount code
    And Cart Total Should Be    8.50
