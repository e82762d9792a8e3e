Feature: A merchant takes payments through a reusable payment link
  A merchant shares one link, on a poster or in a chat, instead of making an invoice per customer. Each
  customer who opens it gets an invoice of their own. The link may ask a fixed price or let the customer
  enter one within the shop's limits, and may close after a date or after a number of uses.

  Background:
    Given a shop taking USDT on Tron with 3 confirmations, a 1% fee and 1% underpayment tolerance
    And the shop is paid out instantly to the M-Pesa phone 0712 345 678
    And USDT sells at KES 130 less a 0.5% margin

  Scenario: Two customers pay through the same link
    Given a payment link for KES 1,300
    When a customer opens the link
    And another customer opens the link
    Then each customer has an invoice of their own for KES 1,300
    And the link has been used 2 times
    When the first customer pays the invoice and the chain confirms it
    Then the first customer's invoice is settled

  Scenario: A link stops at its number of uses
    Given a payment link for KES 500 that may be used once
    When a customer opens the link
    And another customer opens the link
    Then the second customer is told the link is busy with a checkout in progress
    When the first customer pays the invoice and the chain confirms it
    And another customer opens the link
    Then the second customer is told the link is closed
    And the link has been used 1 times

  Scenario: The customer enters the amount within the shop's limits
    Given the shop takes invoices between KES 100 and KES 50,000
    And a payment link where the customer enters the amount
    When a customer opens the link and enters KES 50
    Then the customer is told the amount is below the shop's minimum
    When a customer opens the link and enters KES 2,600
    Then the customer has an invoice for KES 2,600
    And the link has been used 1 times

  Scenario: An expired or deactivated link makes no invoices
    Given a payment link for KES 500 that closes in 30 minutes
    When 31 minutes pass
    And a customer opens the link
    Then the customer is told the link is closed
    Given a payment link for KES 500
    When the merchant deactivates the link
    And a customer opens the link
    Then the customer is told the link is closed
