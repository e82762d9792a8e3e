Feature: Paybill payments M-Pesa did not verify
  A customer pays our paybill from the SIM menu. We book it only when M-Pesa's Transaction Status agrees with the
  confirmation we were sent. When it does not, nothing is credited and the payment waits for staff: they can ask
  M-Pesa again, credit it to a wallet or give the money back to the payer through M-Pesa's Reversal, each only when
  a second officer agrees, and only when M-Pesa's own record shows the payment.

  Background:
    Given Amina has a wallet with the phone number 0712 000 001 and the username amina
    And a customer with the number 0799 000 001 paid our paybill KES 400 for the account "amina"
    But the confirmation we were sent named another payer, so M-Pesa did not verify it

  Scenario: Two officers credit the payment to the wallet the payer meant
    When Ann asks M-Pesa about the payment again
    Then the payment is still not verified and nothing is credited
    When Ann proposes crediting the payment to the wallet "amina"
    And Ann tries to approve her own proposal
    Then she is told a second officer must approve it
    And Amina has KES 0 in her wallet
    When Bob approves Ann's proposal
    Then Amina has KES 400 in her wallet

  Scenario: Nobody proposes a credit from the server's shell
    When an operator at the server's shell proposes crediting the payment to the wallet "amina" in Ann's name
    Then they are told to propose it on the console, where the officer signs in with a fresh code
    And nothing is proposed and Amina has KES 0 in her wallet
    And the refusal is recorded under the operator's name

  Scenario: Two officers give the payment back to the payer
    When Ann proposes returning the payment to the payer
    And Ann tries to approve her own proposal
    Then she is told a second officer must approve it
    And nothing is sent to M-Pesa
    When Bob approves Ann's proposal
    Then M-Pesa reverses it and the payment is marked reversed
    And the customer with the number 0799 000 001 has the KES 400 back
    And Amina has KES 0 in her wallet
    And the books show nothing of it

  Scenario: A payment already reversed in the M-Pesa portal cannot be reversed twice
    Given someone already reversed the payment by hand in the M-Pesa portal
    When Ann proposes returning the payment to the payer
    And Bob approves Ann's proposal
    Then M-Pesa refuses with R000002 and the payment waits again with the reason

  Scenario: Nothing is returned for a receipt M-Pesa never made
    Given a confirmation of a receipt M-Pesa never made was posted with our token
    When Ann tries to return that payment to the payer
    Then she is told to ask M-Pesa again first and nothing is sent

  Scenario: Nothing is credited for a receipt M-Pesa never made
    Given a confirmation of a receipt M-Pesa never made was posted with our token
    When Ann tries to credit that payment to the wallet "amina"
    Then she is told to ask M-Pesa again first and nothing is sent
    And nothing is proposed and Amina has KES 0 in her wallet
