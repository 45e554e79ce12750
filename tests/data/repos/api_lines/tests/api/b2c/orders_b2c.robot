*** Settings ***
Documentation       Orders of the B2C line over the API.
Library             ../../../libraries/HttpLibrary.py
Resource            ../../../resources/api.resource
Suite Setup         Open API Sessions


*** Test Cases ***
B2C order can be fetched
    Send GET request to:    /b2c/orders/1
    Response status code should be:    200

Unknown B2C order is not found
    Send GET request to:    /b2c/orders/999
    Response status code should be:    404
