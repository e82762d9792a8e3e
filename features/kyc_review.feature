Feature: A compliance officer reviews who our customers and merchants are
  Before a customer may move larger sums, an officer checks their identity documents; before a merchant's
  business is verified, two officers check its registration. Nobody reviews their own application, and the
  officer who gave the first approval cannot give the second.

  Scenario: A customer's top tier needs two officers
    Given Wanjiku applied for tier 2 with her national ID, both sides of the card and a selfie
    When officer Ann claims the application and approves it
    Then Wanjiku is not verified yet and her application is back in the queue
    And Ann cannot approve it a second time
    When officer Bob claims the application and approves it
    Then Wanjiku holds tier 2 and may move KES 250,000 at once
    And Wanjiku is told "Your identity verification is approved"

  Scenario: A merchant's business needs two officers as well
    Given Duka Ltd applied for business verification with its KRA PIN and certificate of incorporation
    When officer Ann claims the application and approves it
    And officer Bob claims the application and approves it
    Then Duka Ltd holds business tier 1

  Scenario: A business is verified only once each of its directors is
    Given Duka Ltd applied for business verification naming two directors, Otieno and Achieng
    And each director's ID card, both sides, and selfie are uploaded with the certificate of incorporation
    When officer Ann claims the application and checks Otieno's ID and selfie but not Achieng's yet
    Then Ann cannot approve the business: Achieng is not verified
    When officer Ann checks Achieng's ID and selfie too and approves
    And officer Bob claims the application and approves it
    Then Duka Ltd holds business tier 1

  Scenario: One business, one verified merchant
    Given Duka Ltd is verified with registration number PVT-AB12CD3 and director Otieno
    And another merchant, Duka Traders, applied with registration number "pvt.ab12cd3" and director Achieng
    Then the officers see that Duka Ltd gave the same registration number
    And officer Ann cannot approve Duka Traders: the registration number is in use by Duka Ltd
    When officer Ann links the two merchants because "the company moved to a new merchant account"
    And officer Ann now approves it
    And officer Bob claims the application and approves it
    Then Duka Traders holds business tier 1
    And the audit log shows that Ann linked Duka Traders to Duka Ltd

  Scenario: A director of two businesses is shown to the officers, never refused
    Given Duka Ltd is verified with registration number PVT-AB12CD3 and director Otieno
    And another merchant, Shamba Ltd, applied with registration number "PVT-ZZ99YY8" and director Otieno
    Then the officers see that Otieno also directs Duka Ltd
    When officer Ann claims the application and approves it
    And officer Bob claims the application and approves it
    Then Shamba Ltd holds business tier 1

  Scenario: An officer asks for a better selfie
    Given Wanjiku applied for tier 2 with her national ID, both sides of the card and a selfie
    When officer Ann claims the application and asks for "a selfie in daylight"
    Then Wanjiku is told "Your identity verification needs more information"
    And the application waits for Wanjiku

  Scenario: Every look at a document is on the record
    Given Wanjiku applied for tier 2 with her national ID, both sides of the card and a selfie
    When officer Ann opens the selfie
    Then the audit log shows that Ann viewed a document of Wanjiku's

  Scenario: An unverified merchant is paid, but its money waits for business verification
    Given Duka Ltd, not yet verified, sells goods for 100 USDT
    When the settlement runs
    Then Duka Ltd's balance holds the payment and nothing is paid out, because its business verification is pending
    When two officers approve Duka Ltd's business verification
    And the settlement runs
    Then Duka Ltd is paid out over M-Pesa

  Scenario: A frozen merchant's payouts are held
    Given Duka Ltd, verified, has a payout waiting to be sent
    When officer Ann freezes Duka Ltd because "a sanctions match is under review"
    Then the payout is not sent
    When officer Bob unfreezes Duka Ltd
    Then the payout is sent

  Scenario: Deposits kept just under the threshold all day become one alert, a case and a report to the FRC
    Given Otieno deposits KES 140,000, then KES 145,000, then KES 139,500 on the same day
    When the monitoring batch runs at night
    Then one structuring alert is raised, naming the three deposits
    When officer Ann opens a case from it and notes "three agents, one day"
    And officer Ann exports the suspicious transaction report
    Then the goAML report lists the three deposits under the structuring indicator
    And the case is not reported until its filing is recorded
    When officer Ann records the FRC's goAML report id "100234" filed today
    Then the case is reported with that filing
