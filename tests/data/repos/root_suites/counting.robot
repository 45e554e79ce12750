*** Settings ***
Documentation     Counting with the counter's buttons.
Library           CounterLibrary.py
Test Tags         counter

*** Test Cases ***
Press plus once
    Press Button    +
    Display Should Be    1

Clear resets the display
    Press Button    +
    Press Button    C
    Display Should Be    0
