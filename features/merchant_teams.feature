Feature: A merchant's team works with roles
  A shop is run by more than one person. The owner invites colleagues by email, each with a role: an admin runs
  the shop with the owner, finance handles the money and the reports, staff can only look up invoices and payment links. The owner
  can never be pushed out: only the owner can hand the shop over. Every change is written in the audit log.

  Background:
    Given the shop "Duka" owned by Amina

  Scenario: A colleague joins as finance and sees the money but cannot create API keys
    When Amina invites wanjiku@duka.co.ke as finance
    And Wanjiku accepts the invitation
    Then Wanjiku is finance in the team
    And Wanjiku may read settlements and reports
    But Wanjiku may not create API keys
    And the audit log shows the invitation and the joining

  Scenario: Staff can only look things up
    When Amina invites otieno@duka.co.ke as staff
    And Otieno accepts the invitation
    Then Otieno may read invoices
    But Otieno may not read settlements or reports
    And Otieno may change nothing

  Scenario: Nobody removes or demotes the owner
    When Amina invites achieng@duka.co.ke as admin
    And Achieng accepts the invitation
    Then Achieng cannot remove Amina
    And Achieng cannot make Amina staff

  Scenario: The owner hands the shop over and stays on as an admin
    When Amina invites achieng@duka.co.ke as admin
    And Achieng accepts the invitation
    And Amina hands the shop over to Achieng
    Then Achieng is owner in the team
    And Amina is admin in the team

  Scenario: An invitation expires after a week
    When Amina invites late@duka.co.ke as staff
    And 8 days pass
    Then the invitation can no longer be accepted

  Scenario: Accepting with the password proves the email the invitation went to
    When Amina invites wanjiku@duka.co.ke as finance
    And Wanjiku, whose email is not proven yet, accepts the invitation with her password
    Then Wanjiku is finance in the team
    And Wanjiku's email is proven by the invitation

  Scenario: A wrong password changes nothing
    When Amina invites wanjiku@duka.co.ke as finance
    And Wanjiku, whose email is not proven yet, accepts the invitation with a wrong password
    Then Wanjiku is in no team and her email is not proven
    And the invitation can still be accepted
