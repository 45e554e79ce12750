*** Settings ***
Documentation       Checkout regression: paying the cart, declined cards and order status.
Resource            ../../resources/shop.resource
Suite Setup         Open Shop Session
Suite Teardown      Close Shop Session


*** Test Cases ***
Checkout With A Valid Card
    [Documentation]    Paying with a valid card creates a PAID order and empties the cart.
    [Tags]    QA-7    orders
    Given The user "judy" is logged in
    And The cart contains "2" of "Coffee Mug"
    When Checkout With Card
    Then Order Status Should Be    PAID
    And Order Should Contain    Coffee Mug    2
    And Order Total Should Be    17.00
    And Cart Should Be Empty

Checkout Updates The Stock
    [Documentation]    Sold units are taken out of the stock.
    [Tags]    QA-7    orders
    Given The user "karl" is logged in
    And The shop has "5" of "Running Shoes" in stock
    And The cart contains "2" of "Running Shoes"
    When Checkout With Card
    Then Stock Of "Running Shoes" Should Be "3"

Declined Card Keeps The Cart
    [Documentation]    A declined payment creates no order and keeps the cart for another try.
    [Tags]    QA-8    orders
    Given The user "lena" is logged in
    And The cart contains "1" of "Notebook"
    Then Checkout Should Fail With Message    Payment declined    ${DECLINED_CARD}
    And Cart Should Contain    Notebook

Shipped Order Has Status Shipped
    [Documentation]    The warehouse shipping an order moves it to SHIPPED.
    [Tags]    QA-9    orders
    Given The user "mallory" has a placed order
    When The order has been shipped
    Then Order Status Should Be    SHIPPED
