*** Settings ***
Documentation       Orders of the B2B line over the API.
Library             ../../../libraries/HttpLibrary.py
Resource            ../../../resources/api.resource
Suite Setup         Open API Sessions


*** Test Cases ***
B2B order can be fetched
    Send GET request to:    /b2b/orders/1
    Response status code should be:    200

Unknown B2B order is not found
    Send GET request to:    /b2b/orders/999
    Response status code should be:    404
