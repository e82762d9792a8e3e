Feature: Receiving money from family abroad
  Grace lives in London and has no cryptopay account. She sends money home to her sister Achieng: she opens an order
  saying how many shillings Achieng should receive, pays the USDT it asks to the one-time address it gives, and once
  the payment is confirmed Achieng receives the shillings on M-Pesa (or in her cryptopay wallet, if she has one that
  may take that much) and an SMS saying who sent them. If M-Pesa cannot pay Achieng it is tried again, and in the end the USDT goes back to
  the wallet Grace named. Large amounts need Grace's full details, as the Travel Rule asks.

  Scenario: Achieng receives the shillings on M-Pesa
    When Grace in GB sends KES 10,000 to 0712 345 678 and pays the USDT asked
    Then Achieng receives KES 10,000 on M-Pesa and an SMS naming Grace
    And the books balance

  Scenario: Achieng has a wallet, so the shillings go there
    Given Achieng has a verified wallet with the phone number 0712 345 678
    When Grace in GB sends KES 5,000 to 0712 345 678 and pays the USDT asked
    Then Achieng has KES 5,000 in her wallet and an SMS naming Grace
    And the books balance

  Scenario: Achieng's wallet is for small amounts until she verifies her ID, so more goes to her M-Pesa
    Given Achieng has a wallet with only her phone number 0712 345 678 verified
    When Grace in GB sends KES 20,000 to 0712 345 678 and pays the USDT asked
    Then Achieng receives KES 20,000 on M-Pesa and an SMS naming Grace
    And Achieng has nothing in her wallet
    And the books balance

  Scenario: M-Pesa cannot pay Achieng, so Grace gets her USDT back
    Given M-Pesa refuses payments to 0712 345 678
    When Grace in GB sends KES 2,000 to 0712 345 678 and pays the USDT asked
    And M-Pesa has been tried 3 times, 10 minutes apart
    Then all the USDT Grace paid goes back to her wallet
    And the books balance

  Scenario: M-Pesa's daily limit for Achieng is nearly used, so the remittance waits for midnight
    Given Achieng has received KES 490,000 on M-Pesa today
    When Grace in GB sends KES 20,000 to 0712 345 678 and pays the USDT asked
    Then Achieng's payout waits for midnight in Nairobi and nothing more is sent to M-Pesa today
    And Achieng is told once by SMS, in English and Swahili, on which day she is paid
    When midnight passes in Nairobi
    Then Achieng receives KES 20,000 on M-Pesa and an SMS naming Grace
    And the books balance

  Scenario: A large amount needs more than Grace's name
    When Grace in GB sends KES 200,000 to 0712 345 678 giving only her name and country
    Then she is told the originator needs an address, an identity number or date and place of birth
    And no order was opened
