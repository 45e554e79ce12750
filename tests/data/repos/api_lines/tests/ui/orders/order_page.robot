*** Settings ***
Documentation       The order page in the shop.
Resource            ../../../resources/ui.resource
Suite Setup         UI suite setup


*** Test Cases ***
Order page shows the order
    Open order page    1
    Order page should show:    Order 1

Order page shows the order status
    Open order page    2
    Order page should show:    Shipped
