Feature: Paying bills from my wallet
  Amina has a cryptopay wallet and has verified her national ID. She pays her electricity, water and TV bills from
  it: the money goes by M-Pesa to the biller's paybill with her meter, account or smartcard number as the reference.
  She can pay from her shillings, or from her USDT at a price locked for a short while. When the biller refuses a
  payment her money comes back. KPLC sends prepaid tokens by SMS; when a biller's answer carries the token, she
  sees it on the bill too.

  Background:
    Given Amina has a verified wallet with the phone number 0712 000 001
    And Amina has KES 2,000 in her wallet

  Scenario: Buying electricity tokens for a KPLC prepaid meter
    When Amina pays KES 1,000 to KPLC prepaid for the meter 0123 4567 890
    Then M-Pesa pays KES 1,000 to paybill 888880 with the reference 01234567890
    And the bill is paid and shows a 20-digit token
    And Amina has KES 1,000 in her wallet

  Scenario: The biller refuses the account and the money comes back
    When Amina pays KES 600 to KPLC prepaid for the meter 00000000000
    Then the bill has failed
    And Amina has KES 2,000 in her wallet

  Scenario: Paying the DStv subscription from USDT at a locked price
    Given Amina has 20 USDT in her wallet
    When Amina locks a price and pays KES 1,500 to DStv for the smartcard 7012 345 678 from her USDT
    Then M-Pesa pays KES 1,500 to paybill 444900 with the reference 7012345678
    And the bill is paid
    And Amina sold just enough USDT at the locked price and still has KES 2,000 in her wallet

  Scenario: A locked price pays one bill only
    Given Amina has 20 USDT in her wallet
    When Amina locks a price and pays KES 1,500 to DStv for the smartcard 7012 345 678 from her USDT
    And Amina tries to pay KES 500 to GOtv for the smartcard 7012 345 679 from her USDT at the same price
    Then she is told the price was used already and must lock a new one
    And Amina has 20 USDT less what the first bill sold

  Scenario: Paying from USDT needs a price Amina was shown
    Given Amina has 20 USDT in her wallet
    When Amina tries to pay KES 500 to GOtv for the smartcard 7012 345 679 from her USDT without locking a price
    Then she is told to lock a price first
    And Amina has 20 USDT in her wallet

  Scenario: Nobody pays at a price someone else locked
    Given Baraka has a verified wallet with the phone number 0712 000 002
    And Baraka has 20 USDT in his wallet
    When Amina locks a price
    And Baraka tries to pay KES 500 to GOtv for the smartcard 7012 345 679 from his USDT at Amina's price
    Then Baraka is told there is no such price of his
    And Baraka has 20 USDT in his wallet

  Scenario: A smartcard number that cannot be right is refused before any money moves
    When Amina tries to pay KES 500 to GOtv for the smartcard 12345
    Then she is told the smartcard number is not a GOtv IUC number
    And Amina has KES 2,000 in her wallet

  Scenario: Someone who has only verified a phone number cannot pay bills yet
    Given Baraka has a wallet with the phone number 0712 000 002 and KES 1,000 in it
    When Baraka tries to pay KES 500 to KPLC postpaid for the account 123456
    Then he is refused by the "bill.single" limit
