Feature: Merchants paid in bitcoin or USDC are settled in shillings like USDT
  No exchange sells bitcoin for shillings, so the platform prices bitcoin in dollars on several exchanges
  (the middle of their prices) and dollars in shillings from the forex market. USDC is priced like USDT, and
  refused while it trades away from one dollar. A payment method that nothing can price is never offered:
  a customer's money is never accepted only to be stuck unsettled.

  Background:
    Given a dollar is worth 129 shillings on the forex market
    And bitcoin trades at 96,000, 97,000 and 99,000 dollars on three exchanges
    And USDC trades at 1.00 dollar

  Scenario: Bitcoin is priced through the dollar
    When a merchant asks what one bitcoin is worth in shillings
    Then the middle price is KES 12,513,000.00 from the forex market crossed with the exchanges' middle price

  Scenario: A bitcoin payment is settled to the merchant's M-Pesa
    Given a merchant accepts bitcoin and is paid out daily over M-Pesa
    When a customer pays a KES 5,000 invoice in bitcoin and it is confirmed
    And the day's settlement runs
    Then the bitcoin is sold for shillings at its own locked rate
    And the merchant's shillings are held for one M-Pesa payout
    And the books balance

  Scenario: A USDC payment on Polygon is settled at its own rate
    Given a merchant accepts USDC on Polygon and is paid out daily over M-Pesa
    When a customer pays a KES 5,000 invoice in USDC and it is confirmed
    And the day's settlement runs
    Then the USDC is sold for shillings at its own locked rate
    And the books balance

  Scenario: Bitcoin cannot be taken when nothing prices it
    Given no exchange quotes bitcoin
    And a merchant accepts bitcoin and is paid out daily over M-Pesa
    When the merchant asks for 0.01 BTC payable in bitcoin
    Then the invoice is refused because bitcoin cannot be priced in shillings
    And no invoice is made
