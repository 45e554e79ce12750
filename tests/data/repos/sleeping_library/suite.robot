*** Settings ***
Library           QuickLibrary.py
Library           SleepingLibrary.py

*** Test Cases ***
Quick
    Quick Keyword
