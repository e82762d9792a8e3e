Feature: A merchant chooses how long each payment waits before it counts
  Small payments can be trusted after one block; large ones should wait until the network itself says the
  block can no longer be undone. Each merchant sets this per payment method and invoice size. The customer sees
  the payment as received as soon as it is in a block, and the merchant is credited once the wait is over.

  Background:
    Given a merchant takes USDT on Ethereum
    And small invoices up to KES 10,000 wait 1 block
    And larger invoices wait until Ethereum marks their block finalized

  Scenario: A small payment counts after its first block
    When a customer pays a KES 5,000 invoice
    Then the invoice is settled as soon as the payment's block is seen

  Scenario: A large payment waits for finality, not for depth
    When a customer pays a KES 500,000 invoice
    And 50 more blocks are mined
    Then the invoice shows the payment as received but not yet settled
    When Ethereum marks the payment's block finalized
    Then the invoice is settled

  Scenario: Bitcoin has no finality signal, so it cannot be asked for
    When the merchant asks bitcoin payments to wait for finality
    Then the setting is refused because bitcoin only offers confirmations
