*** Settings ***
Documentation     Wrong credentials are refused.
Resource          resource.robot
Suite Setup       Open Login Page
Test Tags         login
Test Template     Login Should Fail With

*** Variables ***
${WRONG PASSWORD}    not-the-password

*** Test Cases ***        USERNAME         PASSWORD
Invalid Password          ${VALID USER}    ${WRONG PASSWORD}
Empty Username            ${EMPTY}         ${VALID PASSWORD}

*** Keywords ***
Login Should Fail With
    [Arguments]    ${username}    ${password}
    Submit Credentials    ${username}    ${password}
