Feature: Verification tiers limit how much a customer can move
  Each verification tier allows a single movement, a day's total and a month's total in shillings.
  A customer with a verified national ID (tier 1) may move KES 70,000 at once, KES 150,000 a day
  and KES 1,000,000 a month.

  Background:
    Given a customer who has verified a phone number, an email and a national ID

  Scenario: A movement over the daily limit is refused
    Given the customer has already moved KES 120,000 today and KES 300,000 this month
    When the customer tries to send KES 40,000
    Then the movement is refused because of the daily limit
    And the customer is told "KES 40,000.00 would bring today's total to KES 160,000.00, above the daily limit of KES 150,000.00 for tier 1 (national ID verified)"

  Scenario: A movement within the limits is allowed
    Given the customer has already moved KES 120,000 today and KES 300,000 this month
    When the customer tries to send KES 30,000
    Then the movement is allowed

  Scenario: The top tier needs a second administrator
    Given the customer applies for tier 2 with an ID document and a selfie
    When one administrator approves
    Then the customer is still on tier 1
    When a second administrator approves
    Then the customer is on tier 2
