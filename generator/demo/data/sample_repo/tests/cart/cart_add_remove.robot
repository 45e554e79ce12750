*** Settings ***
Documentation       Cart regression: adding, removing, quantities, stock limits and totals.
Resource            ../../resources/shop.resource
Suite Setup         Open Shop Session
Suite Teardown      Close Shop Session


*** Test Cases ***
Add Products To Cart
    [Documentation]    Added products appear in the cart with their quantity and the total is updated.
    [Tags]    QA-4    cart
    Given The user "frank" is logged in
    When Add "2" Of "Blue T-Shirt" To Cart
    And Add "1" Of "Coffee Mug" To Cart
    Then Cart Should Contain    Blue T-Shirt    2
    And Cart Should Contain    Coffee Mug
    And Cart Total Should Be    48.48

Adding The Same Product Twice Adds Up
    [Documentation]    Adding a product already in the cart increases its quantity.
    [Tags]    QA-4    cart
    Given The user "grace" is logged in
    And The cart contains "1" of "Notebook"
    When Add "3" Of "Notebook" To Cart
    Then Cart Should Contain    Notebook    4

Remove Product From Cart
    [Documentation]    A removed product disappears from the cart and from the total.
    [Tags]    QA-5    cart
    Given The user "heidi" is logged in
    And The cart contains "1" of "Running Shoes"
    And The cart contains "2" of "Notebook"
    When Remove "Running Shoes" From Cart
    Then Cart Should Not Contain    Running Shoes
    And Cart Total Should Be    8.50

Cannot Add More Than The Stock
    [Documentation]    The cart never holds more units than the shop has in stock.
    [Tags]    QA-6    cart
    Given The user "ivan" is logged in
    And The shop has "2" of "Wireless Headphones" in stock
    Then Adding To Cart Should Fail With Message    Wireless Headphones    3    Only 2 left in stock for Wireless Headphones
    And Cart Should Be Empty
