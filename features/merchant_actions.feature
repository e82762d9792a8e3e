Feature: A merchant refunds a customer and cancels an invoice
  A merchant can send back what a customer paid, to an address the customer gives, but never more than
  the invoice received, counting every earlier refund that has not failed. A refund asked in shillings is
  converted at a locked rate that the refund keeps. A merchant can cancel an invoice nobody has paid; money
  that still arrives later is kept, credited and can be refunded: it is never lost.

  Background:
    Given a shop taking USDT on Tron with 3 confirmations, a 1% fee and 1% underpayment tolerance
    And the shop is paid out instantly to the M-Pesa phone 0712 345 678
    And USDT sells at KES 130 less a 0.5% margin

  Scenario: A merchant refunds part of an order and the refund reaches the customer
    Given an invoice for 100 USDT paid in full and confirmed
    When the merchant refunds 40 USDT to the customer's address
    Then the refund is waiting to be sent and 59 USDT of the merchant's balance is free
    When the refund is sent and the chain confirms it
    Then the refund is confirmed
    And the merchant's balance is 59 USDT and the platform's fee is 1 USDT
    And the merchant has been sent the refund webhooks refund.requested, refund.sent, refund.confirmed
    And the books balance

  Scenario: Refunds never add up to more than the invoice received
    Given an invoice for 100 USDT paid in full and confirmed
    When the merchant refunds 60 USDT to the customer's address
    And the merchant asks to refund 50 USDT more
    Then the refund is refused because at most 40 USDT can still be refunded
    And only one refund exists for the invoice

  Scenario: A refund asked in shillings is converted at a locked rate
    Given an invoice for 100 USDT paid in full and confirmed
    When the merchant refunds KES 1,306.50 to the customer's address
    Then the refund takes 10 USDT at the rate it names

  Scenario: A failed refund gives the merchant the money back
    Given an invoice for 100 USDT paid in full and confirmed
    When the merchant refunds 40 USDT to the customer's address
    And the refund is sent but the chain rejects it
    Then the refund has failed
    And the merchant's balance is 99 USDT and the platform's fee is 1 USDT
    And 100 USDT can still be refunded

  Scenario: A merchant refunds after its payout, and its next settlement repays it
    Given an invoice for 100 USDT paid in full and confirmed
    When the settlement runs and the payout is sent
    And the merchant refunds 40 USDT to the customer's address, funded from its next settlements
    Then the refund is waiting to be sent and the merchant owes KES 5,226
    When the customer pays another invoice for 100 USDT
    And the settlement runs and the payout is sent
    Then the merchant owes nothing and was paid KES 7,580 this time
    And the books balance

  Scenario: A refund after payout larger than the merchant was recently paid is refused
    Given an invoice for 100 USDT paid in full and confirmed
    When the settlement runs and the payout is sent
    And the merchant asks to refund 100 USDT, funded from its next settlements
    Then the refund is refused because the merchant would owe more than it was paid in the last 30 days
    And the merchant owes nothing

  Scenario: A merchant cancels an invoice nobody paid, and a late payment is kept
    Given an invoice for 100 USDT
    When the merchant cancels the invoice
    Then the invoice is cancelled with nothing unusual
    When 2 minutes pass
    And the customer sends 100 USDT to the invoice's address
    And the chain confirms the payment
    Then the invoice is cancelled, noted as paid late
    And the merchant's balance is 99 USDT and the platform's fee is 1 USDT
    And the merchant has been sent the webhooks invoice.created, invoice.cancelled, invoice.paid_late
    When the merchant refunds 99 USDT to the customer's address
    Then the refund is waiting to be sent and 0 USDT of the merchant's balance is free

  Scenario: An invoice that has received money cannot be cancelled
    Given an invoice for 100 USDT
    When the customer sends 30 USDT to the invoice's address
    And the merchant tries to cancel the invoice
    Then cancelling is refused because the invoice has received a payment
    And the invoice is new, noted as paid partially
