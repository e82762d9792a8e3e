Feature: Customers who pay too little, too much, or too late
  A shop may accept a payment that is a little short. Anything received is kept for the merchant,
  whether it is short, over, or late; only the invoice's outcome differs.

  Background:
    Given a shop that accepts payments up to 1% short
    And an invoice for 100 USDT payable on Tron within 15 minutes

  Scenario: A payment a little short is accepted
    When the customer pays 99.50 USDT in time
    And the payment is confirmed
    Then the invoice is settled, noted as paid short within the tolerance
    And the merchant is credited 99.50 USDT

  Scenario: A payment too far short is not accepted
    When the customer pays 90 USDT in time
    Then the invoice is waiting for payment, noted as paid partially
    And the customer still owes 10 USDT
    When the payment is confirmed
    And the 15 minutes pass
    Then the invoice is expired, noted as paid partially
    And the merchant is credited 90 USDT

  Scenario: A customer pays too much
    When the customer pays 120 USDT in time
    And the payment is confirmed
    Then the invoice is settled, noted as paid over
    And the merchant is credited 120 USDT

  Scenario: A customer pays after the invoice expired
    When the 15 minutes pass
    Then the invoice is expired with nothing unusual
    When the customer pays 100 USDT 5 minutes after the invoice expired
    And the payment is confirmed
    Then the invoice is expired, noted as paid late
    And the merchant is told that the invoice was paid late
    And the merchant is credited 100 USDT
