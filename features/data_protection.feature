Feature: Data protection
  Kenya's Data Protection Act, 2019 gives every person the right to see what we hold about them. A person can
  download it from the API, and a compliance officer can export it for them (for a request made by post or in a
  branch). Whoever asks, the export holds everything about that person and nothing about anyone else, and the
  export itself is written in the audit log.

  Background:
    Given Wanjiku has a wallet with the phone number 254712000001 and the email wanjiku@example.com
    And Wanjiku applied for a national ID check as "Wanjiku Kamau", ID number 23456789, living at "Moi Avenue 12"
    And Wanjiku has KES 2,000 in her wallet and sent KES 300 to 254799000009
    And Otieno has a wallet with the phone number 254712000002 and the email otieno@example.com
    And Otieno applied for a national ID check as "Otieno Odhiambo", ID number 12345678, living at "Kenyatta Avenue 1"
    And Otieno has KES 5,000 in his wallet and sent KES 700 to 254799000008

  Scenario: an export of a data subject holds all and only their data
    When Wanjiku asks for her data
    Then the export holds her profile with her phone number and email
    And the export holds her KYC application with her name, ID number, address and her documents' details
    And the export holds her wallet, her movements and her transfer of KES 300 to 254799000009
    And nothing about Otieno appears in the export
    And no password or token is in the export
    And the audit log says Wanjiku exported her own data
    And Wanjiku is told by email that her data was downloaded, and that is audited

  Scenario: a compliance officer exports a person's data, and that is audited
    When the compliance officer Amina looks up 254712000002 and exports that person's data because "request by post"
    Then the export is Otieno's and nothing about Wanjiku appears in it
    And the audit log says Amina looked up Otieno and exported his data because "request by post"

  Scenario: a merchant owner's export holds the business's application, and of its directors only her
    Given Wanjiku owns the merchant "Duka Ltd", whose business application names her and Otieno as its directors
    When Wanjiku asks for her data
    Then the export holds Duka Ltd's business application with her as its director and her documents' details
    And the export holds nothing of what sanctions screening found on Duka Ltd
    And nothing about Otieno appears in the export

  Scenario: a compliance officer's own export says what she did, not to whom
    Given the compliance officer Amina has an account
    When the compliance officer Amina looks up 254712000002 and exports that person's data because "request by post"
    And the compliance officer Amina downloads her own data
    Then the export says she looked a person up and exported their data, without saying whom
    And nothing about Otieno appears in the export
