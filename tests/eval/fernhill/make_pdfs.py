#!/usr/bin/env python3
"""Regenerate the PDF documents of the Fernhill evaluation corpus (tests/eval/fernhill/docs).

Usage:  python3 tests/eval/fernhill/make_pdfs.py

Uses the dependency-free PDF writer of tests/fixtures/make_pdfs.py (plain, uncompressed,
deterministic Helvetica PDFs); blocks are laid out onto as many pages as they need.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
import make_pdfs as base  # noqa: E402

DOCS = os.path.join(HERE, "docs")

HANDBOOK = [
    ("title", "Fernhill Robotics Employee Handbook"),
    ("p", "Edition 2025. This handbook summarises how we work together. Where a separate policy "
          "exists (travel, expenses, remote work, parental leave), that policy has the details."),
    ("h", "1. About Fernhill"),
    ("p", "Fernhill Robotics designs and builds robotic lawn mowers for homes and small "
          "businesses. The company was founded in 2014 in Leeds by Maren Holt and Idris Okafor, "
          "two engineers who met while building agricultural robots. Today about 340 people work "
          "at Fernhill in three offices: Leeds (headquarters), Tampere (engineering) and "
          "Rotterdam (sales)."),
    ("h", "2. Working hours"),
    ("p", "The standard working week is 37.5 hours, usually Monday to Friday. Overtime must be "
          "agreed with your manager in advance and is compensated with time off in lieu."),
    ("h", "3. Probation and notice periods"),
    ("p", "New employees serve a probation period of six months. During probation either side may "
          "end the employment with one month of notice. After probation the notice period is two "
          "months, and three months for people managers and directors."),
    ("h", "4. Pay and pension"),
    ("p", "Salaries are paid monthly on the 25th of each month. When the 25th falls on a weekend "
          "or public holiday, salary is paid on the previous working day. Payslips are available "
          "in Peoplebase."),
    ("p", "All employees are enrolled in the company pension plan. Fernhill contributes 6% of "
          "basic salary and employees contribute 4%; employees may choose to contribute more."),
    ("h", "5. Badges and building access"),
    ("p", "Wear your ID badge visibly at all times in the office. Report a lost badge to reception "
          "on the same day so that it can be blocked. Do not let people you do not know follow "
          "you through access-controlled doors."),
    ("h", "6. Dress code"),
    ("p", "There is no formal dress code. In the labs and on the test field, closed shoes are "
          "required and the safety rules of the health and safety handbook apply."),
    ("h", "7. Raising concerns"),
    ("p", "Concerns about wrongdoing can be raised with your manager, the People Team or "
          "anonymously through the SafeCall whistleblowing line, which is run by an independent "
          "provider."),
]

REVIEW_GUIDE = [
    ("title", "Performance Review Guide"),
    ("p", "People Team, 2024-2025 cycle. This guide explains how performance is reviewed and how "
          "reviews lead to pay and promotion decisions."),
    ("h", "The review cycle"),
    ("p", "Fernhill reviews performance twice a year. The mid-year check-in takes place in June "
          "and focuses on goals and development. The annual review takes place in December and "
          "includes a rating."),
    ("h", "Preparing"),
    ("p", "Complete your self-assessment in Peoplebase at least two weeks before your review "
          "meeting. Your manager also collects 360-degree feedback from three to five colleagues "
          "you worked with closely."),
    ("h", "Ratings"),
    ("p", "The annual review uses a five-point scale: 1 Not meeting expectations, 2 Partly "
          "meeting expectations, 3 Meeting expectations, 4 Exceeding expectations and 5 "
          "Outstanding. Ratings are calibrated by the leadership team of each department so that "
          "the same standard applies everywhere."),
    ("h", "Pay and promotion"),
    ("p", "Promotion decisions are made in January based on the December review. Salary increases "
          "that follow the annual review take effect on 1 April. Employees rated 4 or 5 are "
          "eligible for the annual bonus, paid with the April salary."),
    ("h", "Disagreeing with a review"),
    ("p", "If you disagree with your rating, write to the People Team within 14 days of the "
          "review meeting. A manager from another team will look at the case."),
]

PASSWORD_V1 = [
    ("title", "Password Policy (version 1)"),
    ("p", "Information Security Team. Issued 2019. Status: superseded by version 2 (2024)."),
    ("h", "Passwords"),
    ("p", "Passwords must be at least 10 characters long and contain an upper-case letter, a "
          "lower-case letter, a digit and a symbol. Passwords must be changed every 90 days, and "
          "the last 12 passwords cannot be reused."),
    ("h", "Multi-factor authentication"),
    ("p", "Remote access requires a second factor: a one-time code sent by SMS to your registered "
          "mobile phone."),
    ("h", "Account lockout"),
    ("p", "An account is locked after 5 failed sign-in attempts. Locked accounts are unlocked by "
          "the IT helpdesk."),
    ("h", "Storing passwords"),
    ("p", "Do not write passwords down. Do not use the same password for company and personal "
          "accounts."),
]

PASSWORD_V2 = [
    ("title", "Password and Authentication Policy (version 2)"),
    ("p", "Information Security Team. Effective 1 June 2024. Replaces version 1."),
    ("h", "Passphrases"),
    ("p", "Use a passphrase of at least 14 characters, for example several unrelated words. "
          "Complexity rules no longer apply. Passwords are not changed on a schedule: you only "
          "change your password when there is a suspected compromise, or when the security team "
          "asks you to."),
    ("h", "Multi-factor authentication"),
    ("p", "Every sign-in to company systems requires multi-factor authentication with the Okta "
          "Verify app or a YubiKey hardware key. SMS codes are no longer permitted as a second "
          "factor because they can be intercepted."),
    ("h", "Account lockout"),
    ("p", "After 10 failed sign-in attempts an account is locked for 15 minutes and then unlocks "
          "automatically."),
    ("h", "Password manager"),
    ("p", "Every employee gets a 1Password company account. Store all work passwords there and "
          "never in browsers or documents. Shared team credentials live in 1Password shared "
          "vaults."),
]

HEALTH_SAFETY = [
    ("title", "Health and Safety Handbook"),
    ("p", "Facilities and Lab Operations, revised 2024. Applies to all offices, labs and the "
          "Tampere test field."),
    ("h", "Fire safety"),
    ("p", "The fire alarm in the Leeds office is tested every Wednesday at 10:30; you do not need "
          "to leave the building during the test. In a real alarm, leave by the nearest exit and "
          "go to the assembly point in car park B. In Tampere the assembly point is the flag "
          "pole in front of the main entrance."),
    ("h", "First aid and accidents"),
    ("p", "The names of trained first aiders are displayed at reception and in each kitchen. "
          "Report every accident or near miss in SafeLog within 24 hours, even when nobody was "
          "hurt."),
    ("h", "Working with robots"),
    ("p", "Only people who have completed the Level 2 robotics safety training may enter the "
          "robot test area or the test field while mowers are running. Remove the blades before "
          "working on a mower on the bench, and wear cut-resistant gloves when handling blades."),
    ("h", "Lone working"),
    ("p", "Nobody may work alone on the test field after 20:00 or at weekends. Lab work outside "
          "office hours must be registered with the lab manager."),
    ("h", "Display screen equipment"),
    ("p", "Every employee can request a workstation assessment from Facilities. Employees who "
          "use screens for most of the day are entitled to an eye test paid by the company every "
          "two years."),
]

M2_MANUAL = [
    ("title", "Mowbot M2 Owner's Manual"),
    ("p", "Thank you for choosing the Mowbot M2 robotic lawn mower. Read this manual before "
          "installing the mower and keep it for later reference."),
    ("h", "Technical specifications"),
    ("p", "Recommended lawn area: up to 1,200 square metres. Cutting width: 22 cm. Cutting "
          "height: 20 to 60 mm, adjustable in 8 steps. Battery: 18 V lithium-ion, 2.5 Ah. Mowing "
          "time per charge: about 60 minutes. Charging time: about 75 minutes. Maximum slope: "
          "35%. Noise level: 58 dB(A). Weight: 9.4 kg."),
    ("h", "Installation"),
    ("p", "The Mowbot M2 navigates with a boundary wire that you lay around the edge of the lawn "
          "and around flower beds. Place the charging station on level ground with at least 1 "
          "metre of free space in front of it. Connect the ends of the boundary wire to the "
          "station; the station light turns green when the loop is closed."),
    ("h", "First start"),
    ("p", "The default PIN code is 0000. Change it in the settings menu the first time you start "
          "the mower; the PIN is needed to change settings and acts as theft protection."),
    ("h", "Maintenance"),
    ("p", "Replace the three pivoting blades every 2 months during the mowing season, or sooner "
          "if the cut becomes ragged. Clean the underside of the mower every week with a brush; "
          "never use a garden hose or pressure washer."),
    ("h", "Winter storage"),
    ("p", "Before winter, charge the battery fully, clean the mower and store it indoors in a dry "
          "place above 0 degrees C. Disconnect the charging station and store it indoors too."),
]

M3_MANUAL = [
    ("title", "Mowbot M3 Owner's Manual"),
    ("p", "The Mowbot M3 is Fernhill's wire-free robotic mower for large and complex gardens. "
          "Read this manual before installing the mower."),
    ("h", "Technical specifications"),
    ("p", "Recommended lawn area: up to 3,000 square metres. Cutting width: 28 cm. Cutting "
          "height: 25 to 70 mm, adjusted electrically from the app. Battery: 18 V lithium-ion, "
          "5.0 Ah. Mowing time per charge: about 120 minutes. Charging time: about 90 minutes. "
          "Maximum slope: 45%. Noise level: 55 dB(A). Weight: 12.1 kg."),
    ("h", "Wire-free navigation"),
    ("p", "The Mowbot M3 does not need a boundary wire. It navigates with RTK-GPS, which is "
          "accurate to about 2 cm: an RTK base station, mounted at least 2 metres high with a "
          "clear view of the sky, sends corrections to the mower. You draw the lawn boundaries "
          "and no-go zones in the Fernhill Home app by driving the mower around the edge once."),
    ("h", "First start"),
    ("p", "There is no default PIN: you choose a PIN code in the Fernhill Home app during setup. "
          "The mower pairs with the app over Bluetooth and then uses your home Wi-Fi or its "
          "built-in 4G modem."),
    ("h", "Rain sensor"),
    ("p", "A rain sensor sends the mower back to its station when it starts to rain. Mowing "
          "resumes automatically two hours after the rain stops; the delay can be changed in the "
          "app."),
    ("h", "Maintenance"),
    ("p", "Replace the blades every 3 months during the mowing season. Clean the cutting deck and "
          "the wheels every two weeks. Keep the RTK base station free of leaves and snow."),
    ("h", "Winter storage"),
    ("p", "Charge the battery fully, clean the mower and store it indoors above 0 degrees C. The "
          "base station can stay outside all year."),
]

OUTPUTS = [
    ("hr/employee-handbook.pdf", "Fernhill Robotics Employee Handbook", HANDBOOK),
    ("hr/performance-review-guide.pdf", "Performance Review Guide", REVIEW_GUIDE),
    ("it/password-policy-v1.pdf", "Password Policy (version 1)", PASSWORD_V1),
    ("it/password-policy-v2.pdf", "Password and Authentication Policy (version 2)", PASSWORD_V2),
    ("facilities/health-and-safety.pdf", "Health and Safety Handbook", HEALTH_SAFETY),
    ("products/mowbot-m2-manual.pdf", "Mowbot M2 Owner's Manual", M2_MANUAL),
    ("products/mowbot-m3-manual.pdf", "Mowbot M3 Owner's Manual", M3_MANUAL),
]


def paginate(blocks):
    """Greedily put blocks on pages, starting a new page when a block does not fit."""
    width = base._width_fn()
    pages, current = [], []
    for block in blocks:
        try:
            base.layout([current + [block]], width)
            current.append(block)
        except SystemExit:
            pages.append(current)
            current = [block]
    if current:
        pages.append(current)
    return pages


def main():
    for rel, title, blocks in OUTPUTS:
        path = os.path.join(DOCS, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pages = paginate(blocks)
        base.write_raw(path, title, pages)
        print("wrote %s (%d pages)" % (os.path.relpath(path, ROOT), len(pages)))


if __name__ == "__main__":
    main()
