Feature: Paying a merchant out over M-Pesa within M-Pesa's limits
  M-Pesa sends whole shillings only, from KES 10 to KES 250,000 a payment, and at most
  KES 500,000 a day to one phone. It also refuses the same amount to the same phone twice
  within two minutes, so no two payments in one payout are the same. Whatever cannot be sent
  today, cents included, stays in the merchant's balance for the next payout.

  Background:
    Given a merchant paid out daily at 17:00 to the M-Pesa phone 0712 345 678

  Scenario: A large balance is paid in legal payments and the rest waits
    Given the merchant's balance is KES 600,000.75
    And nothing has been sent to that phone today
    When the payout is planned
    Then these M-Pesa payments are sent:
      | payment | shillings |
      | 1       | 250,000   |
      | 2       | 249,999   |
    And KES 100,001.75 stays in the merchant's balance for the next payout

  Scenario: Part of the day's limit is already used
    Given the merchant's balance is KES 300,000
    And KES 400,000 has already been sent to that phone today
    When the payout is planned
    Then these M-Pesa payments are sent:
      | payment | shillings |
      | 1       | 100,000   |
    And KES 200,000.00 stays in the merchant's balance for the next payout

  Scenario: The merchant pays a charge on each payment
    Given the merchant pays an M-Pesa charge of KES 15 plus 0.1% on each payment, at most KES 100
    And the merchant's balance is KES 10,000
    And nothing has been sent to that phone today
    When the payout is planned
    Then these M-Pesa payments are sent:
      | payment | shillings | charge |
      | 1       | 9,975     | 24.98  |
    And KES 0.02 stays in the merchant's balance for the next payout

  Scenario: A small balance waits for the minimum
    Given the merchant's balance is KES 80
    When the payout is planned
    Then no M-Pesa payment is sent
    And KES 80.00 stays in the merchant's balance for the next payout
