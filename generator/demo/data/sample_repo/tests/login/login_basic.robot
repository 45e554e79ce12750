*** Settings ***
Documentation       Login regression: valid and invalid credentials, logout.
Resource            ../../resources/shop.resource
Suite Setup         Open Shop Session
Suite Teardown      Close Shop Session


*** Test Cases ***
Registered User Can Log In
    [Documentation]    A registered user logs in with the right password and owns the session.
    [Tags]    QA-1    login
    Given The user "carol" has an account
    When Login As    carol
    Then User Should Be Logged In    carol
    And Failed Login Count Of "carol" Should Be "0"

Wrong Password Is Rejected
    [Documentation]    A wrong password is refused with a generic message and counted.
    [Tags]    QA-1    login
    Given The user "dave" has an account
    When Login Should Fail With Message    dave    not-my-password    Invalid username or password
    Then Failed Login Count Of "dave" Should Be "1"
    And Account "dave" Should Be Active

Unknown User Is Rejected With The Same Message
    [Documentation]    An unknown user gets the same message as a wrong password (no account enumeration).
    [Tags]    QA-2    login
    Given The user is a guest
    Then Login Should Fail With Message    nobody    whatever    Invalid username or password

User Can Log Out
    [Documentation]    Logging out ends the session and empties the cart.
    [Tags]    QA-3    login
    Given The user "erin" is logged in
    And The cart contains "1" of "Notebook"
    When Logout
    Then User Should Be Logged Out
    And Cart Should Be Empty
