Feature: Merchant fee and exchange rate on an invoice priced in shillings
  A merchant prices goods in Kenyan shillings and the customer pays in USDT.
  The exchange rate is locked when the invoice is made, so the customer knows exactly what to pay
  and the merchant knows exactly what the shillings are worth. The platform earns a small margin on
  the exchange rate and a fee on each payment the merchant receives.

  Background:
    Given the market rate is 129.20 shillings per USDT
    And the platform keeps an exchange margin of 0.5% either side of the market rate
    And the merchant fee is 1% of each payment, at least 0.10 USDT

  Scenario: A customer pays a KES 5,000 invoice in USDT
    When the merchant asks for KES 5,000 payable in USDT on Tron
    Then the customer is asked to pay 38.894162 USDT
    And the rate is locked at 128.554 shillings per USDT for 15 minutes
    When the customer pays 38.894162 USDT and the payment is confirmed
    Then the invoice is settled
    And the 38.894162 USDT are worth KES 5,000.00 at the locked rate
    And the platform's exchange margin is KES 25.12
    And the merchant fee is 0.388942 USDT
    And the merchant is credited 38.505220 USDT

  Scenario: A small invoice pays the minimum fee
    When the merchant asks for KES 500 payable in USDT on Tron
    Then the customer is asked to pay 3.889417 USDT
    When the customer pays 3.889417 USDT and the payment is confirmed
    Then the merchant fee is 0.100000 USDT
    And the merchant is credited 3.789417 USDT
