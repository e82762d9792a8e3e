Feature: The treasury behind settlement
  Customers pay in USDT to deposit addresses; merchants are paid in shillings from our M-Pesa float.
  Operators keep the two stocked: deposits are swept into the hot wallet, USDT is sold for shillings,
  and shillings are moved into the float. A payout the float cannot pay is never sent to fail at
  Safaricom: it waits, saying why, and goes as soon as the float is topped up.

  Scenario: A payout the float cannot cover waits until the float is topped up
    Given the M-Pesa float holds KES 3,000 and KES 1,000 of it is kept in reserve
    And a merchant paid out instantly to the M-Pesa phone 0712 345 678
    When a customer pays 40 USDT to the merchant and the merchant is settled
    Then no money leaves the M-Pesa float
    And the payout waits because the float cannot cover it
    And the treasury is alerted that the payout is held
    When KES 10,000 is moved into the float and recorded as top-up "bank-0042"
    Then the payout is released, sent and paid by M-Pesa
    And the books balance

  Scenario: Deposit addresses above the threshold are swept into the hot wallet
    Given deposit addresses are swept from 50 USDT
    And a merchant paid out weekly to the M-Pesa phone 0712 345 678
    And customers have paid 120 USDT to one invoice and 30 USDT to another
    When the sweeps run until they settle
    Then the hot wallet holds 120 USDT and the smaller deposit still holds 30 USDT
    And the network fees of the sweep are booked as an expense
    And the books and the chain agree on the USDT we hold
    And reconciliation finds nothing wrong in the treasury

  Scenario: USDT sold on an OTC desk books its gain against the customers' quotes
    Given a merchant paid out instantly to the M-Pesa phone 0712 345 678
    And a customer paid 100 USDT that the merchant was settled for at KES 130 each
    When the treasury records selling 100 USDT at KES 131 on an OTC desk for a fee of KES 50
    Then a foreign-exchange gain of KES 100.00 is booked
    And KES 13,050.00 lands in the bank
    And the USDT sold has left our holdings on tron
    And the books balance
