*** Settings ***
Documentation     A user with valid credentials logs in.
Resource          resource.robot
Suite Setup       Open Login Page
Test Tags         login

*** Test Cases ***
Valid Login
    Submit Credentials    ${VALID USER}    ${VALID PASSWORD}
    Welcome Page Should Be Open
