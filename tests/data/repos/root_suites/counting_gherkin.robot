*** Settings ***
Documentation     The same behaviour, told as Given/When/Then.
Library           CounterLibrary.py
Test Tags         counter    gherkin

*** Variables ***
${START}          0

*** Test Cases ***
Pressing plus counts up
    Given the counter is cleared
    When the user presses "+"
    Then the display shows "1"

*** Keywords ***
The counter is cleared
    Press Button    C
    Display Should Be    ${START}

The user presses "${button}"
    Press Button    ${button}

The display shows "${value}"
    Display Should Be    ${value}
