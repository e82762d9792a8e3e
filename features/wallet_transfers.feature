Feature: Sending money to friends by phone number
  Amina and Baraka each have a cryptopay wallet. Amina has verified her national ID, so she may send money to
  other people; sending is instant and free. Anyone can be sent money by phone number, even without a wallet yet:
  they get an SMS and have seven days to sign up and collect it, or it goes back to the sender.

  Background:
    Given Amina signs up with the phone number 0712 000 001 and the code she receives by SMS
    And Amina has verified her national ID
    And Baraka signs up with the phone number 0712 000 002 and the code he receives by SMS
    And Amina has KES 1,000 in her wallet

  Scenario: Sending shillings to a friend arrives at once
    When Amina sends KES 250 to 0712 000 002 with the note "lunch"
    Then Baraka has KES 250 in his wallet
    And Amina has KES 750 in her wallet
    And Amina's history shows KES -250.00 leaving her with KES 750.00

  Scenario: Someone who has only verified a phone number cannot send yet
    Given Baraka has KES 100 in his wallet
    When Baraka tries to send KES 50 to 0712 000 001
    Then he is refused by the "p2p.single" limit with KES 0.00 remaining
    And Baraka has KES 100 in his wallet

  Scenario: A friend who has only verified a phone number receives small amounts until he verifies his ID
    Given Amina has KES 10,000 in her wallet
    When Amina tries to send KES 8,000 to 0712 000 002
    Then she is told only that the recipient cannot receive this amount now
    And Amina has KES 11,000 in her wallet
    And Baraka has KES 0 in his wallet
    When Amina sends KES 4,000 to 0712 000 002 with the note "rent"
    Then Baraka has KES 4,000 in his wallet
    When Baraka verifies his national ID
    And Amina sends KES 7,000 to 0712 000 002 with the note "the rest"
    Then Baraka has KES 11,000 in his wallet

  Scenario: A friend without a wallet collects the money by signing up
    When Amina sends KES 300 to 0733 000 003 with the note "for the bus"
    Then 0733 000 003 receives an SMS saying money is waiting for seven days
    When Chebet signs up with the phone number 0733 000 003 and the code she receives by SMS
    Then Chebet has KES 300 in her wallet

  Scenario: Money nobody collects comes back after seven days
    When Amina sends KES 300 to 0733 000 003 with the note "for the bus"
    And eight days pass
    Then Amina has KES 1,000 in her wallet

  Scenario: Money a new wallet could not take at once is collected when she verifies her ID
    Given Amina has KES 15,000 in her wallet
    When Amina sends KES 5,000 to 0733 000 003 with the note "school fees"
    And Amina sends KES 5,000 to 0733 000 003 with the note "uniform"
    And Amina sends KES 5,000 to 0733 000 003 with the note "books"
    And Chebet signs up with the phone number 0733 000 003 and the code she receives by SMS
    Then Chebet has KES 10,000 in her wallet
    When Chebet verifies her national ID
    Then Chebet has KES 15,000 in her wallet
    And Amina has KES 1,000 in her wallet

  Scenario: Money a new wallet could not take today is collected the next day, not sent back
    Given Amina has KES 15,000 in her wallet
    When Amina sends KES 5,000 to 0733 000 003 with the note "school fees"
    And Amina sends KES 5,000 to 0733 000 003 with the note "uniform"
    And Amina sends KES 5,000 to 0733 000 003 with the note "books"
    And Chebet signs up with the phone number 0733 000 003 and the code she receives by SMS
    Then Chebet has KES 10,000 in her wallet
    When a day passes
    Then Chebet has KES 15,000 in her wallet
    And Amina has KES 1,000 in her wallet
