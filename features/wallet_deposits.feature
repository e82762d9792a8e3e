Feature: Depositing crypto into my wallet
  Amina keeps USDT in her cryptopay wallet. She tops it up from an exchange or another wallet by sending USDT to her
  own deposit address on the network she chooses. Her wallet counts the money only once the network has confirmed
  it enough times, so that a block the network later drops cannot leave her with money that never arrived. Money
  from an address on a sanctions list is kept aside for the compliance officers instead of being credited. Until she
  verifies her national ID her wallet takes small deposits only (KES 5,000 at a time, 10,000 a day, 30,000 a month).

  Background:
    Given Amina has a wallet with the phone number 0712 000 001
    And wallet deposits on Polygon wait for 3 confirmations

  Scenario: I deposit USDT on Polygon and see it in my balance after 3 confirmations; a reorg takes it back
    When Amina asks for her Polygon deposit address
    And a friend sends 25 USDT to it on Polygon
    Then Amina sees the deposit confirming and still has 0 USDT
    When 2 more blocks are mined on Polygon
    Then Amina has 25 USDT and her history shows the deposit
    When the network drops the block the deposit was in
    Then Amina has 0 USDT and her history shows the deposit reversed
    And the books balance

  Scenario: The same deposit mined again after a reorg is credited once
    When Amina asks for her Polygon deposit address
    And a friend sends 25 USDT to it on Polygon
    And the network drops the block the deposit was in
    And the network mines the same transfer again
    And 2 more blocks are mined on Polygon
    Then Amina has 25 USDT and her history shows the deposit
    And the books balance

  Scenario: A deposit from a sanctioned address is held for the compliance officers
    Given the friend's address is on a sanctions list
    When Amina asks for her Polygon deposit address
    And a friend sends 25 USDT to it on Polygon
    And 2 more blocks are mined on Polygon
    Then the deposit is held because its sender is sanctioned
    And Amina still has 0 USDT
    And the compliance officers have a blocking alert about Amina
    And the books balance

  Scenario: Before I verify my ID a large deposit waits, and it reaches my wallet once my ID is verified
    When Amina asks for her Polygon deposit address
    And a friend sends 100 USDT to it on Polygon
    And 2 more blocks are mined on Polygon
    Then the deposit is held because her wallet may not receive that much before she verifies her ID
    And Amina still has 0 USDT
    And the books balance
    When Amina verifies her national ID
    And 1 more blocks are mined on Polygon
    Then Amina has 100 USDT and her history shows the deposit
    And the books balance

  Scenario: I deposit USDC on Polygon and it is credited as USDT at the prices of the moment; a reorg takes it back
    Given Amina has verified her national ID
    And USDC trades at 1 USD
    When Amina asks for her Polygon deposit address
    And a friend sends 100 USDC to it on Polygon
    And 2 more blocks are mined on Polygon
    Then Amina has 99.5 USDT, converted from 100 USDC less the 0.5% spread, with the quotes kept
    And reconciliation agrees, with 100 USDC in custody on Polygon
    When the network drops the block the deposit was in
    Then Amina has 0 USDT and her history shows the deposit reversed
    And reconciliation agrees, with 0 USDC in custody on Polygon

  Scenario: USDC off its peg is held until it can be priced, then credited
    Given Amina has verified her national ID
    And USDC trades at 0.90 USD
    When Amina asks for her Polygon deposit address
    And a friend sends 100 USDC to it on Polygon
    And 2 more blocks are mined on Polygon
    Then the deposit is held until USDC can be priced, and Amina still has 0 USDT
    And reconciliation agrees, with 100 USDC in custody on Polygon
    When USDC trades at 1 USD again
    And 1 more blocks are mined on Polygon
    Then Amina has 99.5 USDT, converted from 100 USDC less the 0.5% spread, with the quotes kept
    And reconciliation agrees, with 100 USDC in custody on Polygon
