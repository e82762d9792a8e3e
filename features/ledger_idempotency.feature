Feature: Retrying a request never moves money twice
  Phones drop, networks time out and clients press "pay" again. Every money movement carries an
  idempotency key: the same request with the same key gives back the first result, and a different
  request under a key already used is refused, so a customer is never charged twice.

  Background:
    Given Wanjiru has KES 1,000.00 in her cryptopay wallet
    And Otieno has KES 0.00 in his cryptopay wallet

  Scenario: The same payment retried after a timeout is booked once
    When Wanjiru sends Otieno KES 250.00 with request key "send-42"
    And the app retries the same payment with request key "send-42"
    Then both answers name the same ledger entry
    And Wanjiru has KES 750.00
    And Otieno has KES 250.00
    And the books balance

  Scenario: A different payment under a used key is refused and changes nothing
    When Wanjiru sends Otieno KES 250.00 with request key "send-42"
    And Wanjiru tries to send Otieno KES 300.00 with request key "send-42"
    Then the second request is refused as a conflicting reuse of the key
    And Wanjiru has KES 750.00
    And Otieno has KES 250.00

  Scenario: A payment larger than the wallet is refused and changes nothing
    When Wanjiru tries to send Otieno KES 1,000.01 with request key "send-43"
    Then the request is refused for insufficient funds
    And Wanjiru has KES 1,000.00
    And Otieno has KES 0.00
    And the books balance
