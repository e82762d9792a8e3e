Feature: Withdrawing crypto from my wallet
  Amina keeps USDT in her cryptopay wallet and sometimes sends some to a wallet of her own outside cryptopay. Before
  she confirms she sees our fee and the total that leaves her wallet. The first time she uses an address, cryptopay
  waits a day before sending it, so that someone who took over her account cannot empty it at once. An address on a
  sanctions list is refused before anything is signed, and when the transaction cannot be made her coins come back.
  An address cryptopay itself controls (its hot wallet, another wallet's deposit address) is refused: a person here
  is paid by phone or username, not on chain.

  Background:
    Given Amina has a verified wallet with the phone number 0712 000 001
    And Amina has 300 USDT in her wallet
    And the hot wallet holds 1,000 USDT

  Scenario: A normal withdrawal to an address she used before
    Given Amina withdrew 10 USDT to her own address last week
    When Amina withdraws 100 USDT to her own address
    Then she was shown a fee of 1 USDT and a total of 101 USDT before confirming
    And the withdrawal is sent at once
    When the network confirms it
    Then the withdrawal is confirmed and her address has received 110 USDT
    And Amina has 188 USDT in her wallet

  Scenario: A first-time address waits for the cool-off
    When Amina withdraws 100 USDT to her own address
    Then the withdrawal waits 24 hours before it is sent
    And Amina has 199 USDT in her wallet
    When 24 hours pass
    Then the withdrawal is sent

  Scenario: A withdrawal to a sanctioned address is blocked before anything is signed
    When Amina tries to withdraw 100 USDT to 0x8576aCC5C05D6Ce88f4e49bf65BdF0C62F91353C
    Then she is told the withdrawal was blocked by compliance
    And nothing was signed or sent
    And a compliance officer sees a "sanctioned-counterparty" alert
    And Amina has 300 USDT in her wallet

  Scenario: An address cryptopay controls is refused: she pays a person here by phone or username instead
    Given Baraka has a verified wallet with the phone number 0712 000 002
    And Baraka has a deposit address
    When Amina tries to withdraw 100 USDT to Baraka's deposit address
    Then she is told the address belongs to cryptopay and to send by phone or username instead
    When Amina tries to withdraw 100 USDT to the hot wallet
    Then she is told the address belongs to cryptopay and to send by phone or username instead
    And nothing was signed or sent
    And Amina has 300 USDT in her wallet

  Scenario: A withdrawal above her limit is refused by the limit's name
    Given Amina has 200 USDT more in her wallet
    When Amina tries to withdraw 400 USDT to her own address
    Then she is refused by the "withdraw.single" limit
    And Amina has 500 USDT in her wallet

  Scenario: A failed send gives her coins back
    Given the hot wallet cannot pay
    When Amina withdraws 100 USDT to her own address
    And 24 hours pass
    Then the withdrawal has failed
    And Amina has 300 USDT in her wallet

  Scenario: Reconciliation covers withdrawals
    When Amina withdraws 100 USDT to her own address
    And 24 hours pass
    And the network confirms it
    And Amina withdraws 50 USDT to her own address
    Then reconciliation finds no difference in the withdrawals and the books

  Scenario: A withdrawal the network dropped is returned to her wallet by an operator
    Given the network mines only when told
    When Amina withdraws 100 USDT to her own address
    And 24 hours pass
    And the network drops the withdrawal and another transaction takes its nonce
    And the worker follows the sent withdrawals twice
    Then the withdrawal is still sent holding 101 USDT, and reconciliation names it
    When an operator resolves the withdrawal
    Then the operator is told it will not be mined, and nothing changed
    When an operator resolves the withdrawal as failed because "its nonce went to another transaction"
    Then the withdrawal has failed
    And Amina has 300 USDT in her wallet
    And resolving it again changes nothing
    And the audit log names the operator for each resolution

  Scenario: An operator cannot fail a withdrawal the network may still mine, but can broadcast it again
    Given the network mines only when told
    When Amina withdraws 100 USDT to her own address
    And 24 hours pass
    And the network forgets the withdrawal
    And an operator tries to resolve the withdrawal as failed because "not seen for an hour"
    Then the operator is refused because the chain may still mine it
    And Amina has 199 USDT in her wallet
    When an operator resolves the withdrawal
    Then the withdrawal is waiting in the network again
    When the network mines it
    And an operator resolves the withdrawal
    Then the withdrawal is confirmed and her address has received 100 USDT
    And Amina has 199 USDT in her wallet
