Feature: A merchant is paid in crypto and settled in shillings over M-Pesa
  A customer pays an invoice by sending USDT to the invoice's own address; only that address tells
  whose payment it is. Once the chain has confirmed it, the merchant's balance is credited less the
  merchant fee. The balance is sold for shillings at a locked rate and paid out to the merchant's
  M-Pesa phone. Money is never lost and never paid twice, even when the chain changes its mind or
  M-Pesa's messages go missing.

  Background:
    Given a shop taking USDT on Tron with 3 confirmations, a 1% fee and 1% underpayment tolerance
    And the shop is paid out instantly to the M-Pesa phone 0712 345 678
    And USDT sells at KES 130 less a 0.5% margin

  Scenario: A customer pays in full
    Given an invoice for 100 USDT
    When the customer sends 100 USDT to the invoice's address
    Then the invoice is processing
    When the chain confirms the payment
    Then the invoice is settled with nothing unusual
    And the merchant's balance is 99 USDT and the platform's fee is 1 USDT
    And the merchant has been sent the webhooks invoice.created, invoice.processing, invoice.settled
    And the books balance

  Scenario: A payment a little short is accepted
    Given an invoice for 100 USDT
    When the customer sends 99.50 USDT to the invoice's address
    And the chain confirms the payment
    Then the invoice is settled, noted as paid short within the tolerance
    And the merchant's balance is 98.505 USDT and the platform's fee is 0.995 USDT

  Scenario: A payment too far short is not accepted, but the money is kept
    Given an invoice for 100 USDT
    When the customer sends 90 USDT to the invoice's address
    And the chain confirms the payment
    Then the invoice is new, noted as paid partially
    When 15 minutes pass
    Then the invoice is expired, noted as paid partially
    And the merchant's balance is 89.1 USDT and the platform's fee is 0.9 USDT
    And the merchant has been sent the webhooks invoice.created, invoice.paid_partial, invoice.expired

  Scenario: A customer pays too much
    Given an invoice for 100 USDT
    When the customer sends 120 USDT to the invoice's address
    And the chain confirms the payment
    Then the invoice is settled, noted as paid over
    And the merchant's balance is 118.8 USDT and the platform's fee is 1.2 USDT

  Scenario: A customer pays after the invoice expired
    Given an invoice for 100 USDT
    When 16 minutes pass
    Then the invoice is expired with nothing unusual
    When the customer sends 100 USDT to the invoice's address
    And the chain confirms the payment
    Then the invoice is expired, noted as paid late
    And the merchant has been sent the webhooks invoice.created, invoice.expired, invoice.paid_late
    And the merchant's balance is 99 USDT and the platform's fee is 1 USDT

  Scenario: Nobody pays
    Given an invoice for 100 USDT
    When 16 minutes pass
    Then the invoice is expired with nothing unusual
    And the merchant's balance is 0 USDT and the platform's fee is 0 USDT

  Scenario: The chain reorganises the payment away before settlement
    Given an invoice for 100 USDT
    When the customer sends 100 USDT to the invoice's address
    And the chain confirms the payment
    Then the merchant's balance is 99 USDT and the platform's fee is 1 USDT
    When the chain reorganises the payment's block away
    Then the invoice is new with nothing unusual
    And the merchant's balance is 0 USDT and the platform's fee is 0 USDT
    And the books balance
    When the payment is mined again and confirmed
    Then the invoice is settled with nothing unusual
    And the merchant's balance is 99 USDT and the platform's fee is 1 USDT

  Scenario: A payout fails and an operator retries it
    Given M-Pesa will refuse the next payment to the merchant's phone for lack of float
    And an invoice for 100 USDT paid in full and confirmed
    When the settlement runs and the payout is sent
    Then the payout has failed
    And KES 12,805.65 is available to the merchant again
    And the merchant has been sent a payout.failed webhook
    When the float is topped up and an operator retries the payout
    Then the payout is completed on attempt 2
    And the merchant's phone has received KES 12,805
    And the books balance

  Scenario: M-Pesa's result is lost and a status query recovers it
    Given M-Pesa will lose the result of the next payment to the merchant's phone
    And an invoice for 100 USDT paid in full and confirmed
    When the settlement runs and the payout is sent
    Then the payout is still waiting for its result
    When 2 minutes pass and the payout's status is asked
    Then the payout is completed on attempt 1
    And the settlement is completed within 2 hours of its cut-off
    And the merchant's phone has received KES 12,805

  Scenario: M-Pesa pays but its answers are lost, and reconciling with M-Pesa's statement finds it
    Given M-Pesa will lose the result of the next payment to the merchant's phone
    And an invoice for 100 USDT paid in full and confirmed
    When the settlement runs and the payout is sent
    Then the payout is still waiting for its result
    And our own records reconcile
    When the books are reconciled with M-Pesa's statement
    Then reconciliation reports the payout as paid by M-Pesa though our books say submitted

  Scenario: M-Pesa sends the same result twice
    Given M-Pesa will send the result of the next payment to the merchant's phone twice
    And an invoice for 100 USDT paid in full and confirmed
    When the settlement runs and the payout is sent
    Then the payout is completed on attempt 1
    And the merchant has been sent 1 payout.completed webhook
    And the merchant's phone has received KES 12,805
    And the books balance
