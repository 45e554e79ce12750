*** Settings ***
Documentation     QA-104: Block checkout for guest users

Resource          ../../resources/shop.resource

Suite Setup       Open Shop Session
Suite Teardown    Close Shop Session

Test Tags         QA-104    orders    wip    jira2robot:incomplete


*** Test Cases ***
Block Checkout For Guest Users
    [Documentation]    Given a guest user who is not logged in. And the cart contains 1 "Coffee Mug". Then checking out
    ...    with a valid card is refused with the message "Please log in to checkout". And the cart still contains the
    ...    "Coffee Mug". And the guest is redirected to the login page.
    Given The user is a guest
    And The cart contains "1" of "Coffee Mug"
    Then Checkout Should Fail With Message    Please log in to checkout
    And Cart Should Contain    Coffee Mug
    Skip    Incomplete (jira2robot): 1 step(s) without a keyword: And the guest is redirected to the login page
    # MISSING KEYWORD: And the guest is redirected to the login page
