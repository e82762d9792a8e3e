Feature: A merchant reads its sales, fees and settlements by day and by month
  A shop owner wants to know what was sold, what the platform charged for it and what reached the bank or
  M-Pesa, day by day for the dashboard and month by month for the statement. The taxes on our fees are named and
  rated in configuration, not in the program, so a change in the law is a change of data.

  Background:
    Given a shop paid out daily to the M-Pesa phone 0712 345 678 with a 1% fee

  Scenario: A day's sales are the confirmed payments, less our fee
    Given customers paid 100 USDT and 50 USDT on Monday 5 January 2026
    And a customer paid 10 USDT on Tuesday 6 January 2026
    When the shop reads its daily sales for 5 and 6 January
    Then Monday shows 2 payments, 150 USDT received, 1.5 USDT in fees and 148.5 USDT net
    And Tuesday shows 1 payment, 10 USDT received, 0.1 USDT in fees and 9.9 USDT net
    And the monthly sales for January show 3 payments and 158.4 USDT net

  Scenario: The fee statement shows the excise duty contained in our fee
    Given customers paid 115 USDT on Monday 5 January 2026
    When the shop reads its fees for January
    Then the merchant fee is 1.15 USDT, of which excise duty 0.15 USDT, leaving 1 USDT net of tax

  Scenario: The settlement report shows what was paid out
    Given customers paid 100 USDT on Monday 5 January 2026
    And the day's settlement was paid to the shop's phone
    When the shop reads its settlements for 5 January
    Then it shows 1 settlement with KES 12,805 paid out and nothing in flight
