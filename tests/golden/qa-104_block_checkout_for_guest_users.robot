*** Settings ***
Documentation     QA-104: Block checkout for guest users

Resource          ../../resources/shop.resource

Suite Setup       Open Shop Session
Suite Teardown    Close Shop Session


*** Test Cases ***
Block Checkout For Guest Users
    [Documentation]    Checking out with a valid card is refused with the message "Please log in to checkout".
    [Tags]    QA-104    orders    wip    jira2robot:incomplete
    Given The user is a guest
    And The cart contains "1" of "Coffee Mug"
    Then Checkout Should Fail With Message    Please log in to checkout
    And Cart Should Contain    Coffee Mug
    Skip    Incomplete (jira2robot): 1 step(s) without a keyword: And the guest is redirected to the login page
    # MISSING KEYWORD: And the guest is redirected to the login page
