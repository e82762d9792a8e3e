Feature: A merchant is settled to a bank account
  Kenyan businesses pay a bank account the way its owner would: M-Pesa "Pay Bill" to the bank's own paybill
  with the account number as the reference. Banks that cannot be paid that way get a transfer from our bank,
  listed in a bank file an operator works through; one officer proposes its bank reference and a second confirms
  it. Either way the same rules hold: the request is recorded before it is sent, M-Pesa's answer must name our
  payment, and nobody is ever paid twice.

  Background:
    Given USDT sells at KES 130 less a 0.5% margin

  Scenario: An Equity account is paid through Equity's paybill
    Given a shop settled daily to the Equity Bank account 0170123456789
    And the shop was paid 100 USDT
    When the day's settlement runs
    Then KES 12,805 is sent by M-Pesa Pay Bill to paybill 247247 with account 0170123456789
    When M-Pesa reports the payment made
    Then the payout is completed with M-Pesa's receipt
    And the books balance

  Scenario: M-Pesa's answer is lost, and the status check settles it without paying twice
    Given a shop settled daily to the KCB Bank account 1234567890
    And the shop was paid 100 USDT
    When the day's settlement runs
    And M-Pesa's answer never arrives
    And 3 minutes pass and the payouts are checked
    Then the payout is completed with M-Pesa's receipt
    And M-Pesa was asked to pay once only

  Scenario: A bank without a paybill is paid by an operator from the bank file
    Given a shop settled daily to the Citibank N.A. Kenya account 12345678
    And the shop was paid 100 USDT
    When the day's settlement runs
    Then nothing is sent to M-Pesa
    And the bank file lists KES 12,805 to Citibank N.A. Kenya account 12345678
    When an officer proposes the transfer's bank reference FT26005ABC
    Then the payout still awaits its transfer
    When a second officer approves the bank reference FT26005ABC
    Then the payout is completed with the receipt FT26005ABC
    And the transfer is paid from our bank account, not the M-Pesa float
    And the books balance
