*** Settings ***
Documentation     Shared keywords and variables of the login suites (a .robot file without tests).

*** Variables ***
${SERVER}           localhost:7272
${VALID USER}       demo
${VALID PASSWORD}   fixture-password-value

*** Keywords ***
Open Login Page
    Log    Opening http://${SERVER}/

Submit Credentials
    [Arguments]    ${username}    ${password}
    Log    ${username} logs in

Welcome Page Should Be Open
    Log    welcome
