Feature: Cashing out the shillings in my wallet
  Amina sells USDT for shillings paid by M-Pesa to her own number. When M-Pesa cannot pay, the shillings stay in her
  wallet; she cashes whole shillings of them out to her own number the same way, M-Pesa's charge out of them.

  Background:
    Given Amina has a verified wallet with the phone number 0712 000 001 and 10 USDT in it

  Scenario: A failed sale's shillings can be cashed out
    Given M-Pesa cannot pay Amina's number
    When Amina sells 10 USDT
    Then the sale has failed and Amina has KES 1,293.50 in her wallet
    Given M-Pesa can pay Amina's number again
    When Amina cashes out KES 1,293
    Then M-Pesa pays Amina's number KES 1,293 less its charge
    And Amina has KES 0.50 in her wallet

  Scenario: Cents cannot be cashed out
    Given M-Pesa cannot pay Amina's number
    When Amina sells 10 USDT
    And Amina tries to cash out KES 1,293.50
    Then she is told to cash out whole shillings
    And Amina has KES 1,293.50 in her wallet
