"""Project control: earned value, schedule quality and health, computed without a database.

Pure functions over plain dataclasses, called by the projects domain (service and views):

- ``evm``: planned value curve, earned value figures, earned schedule, S-curves, budget rule;
- ``dcma``: the DCMA 14-point schedule assessment;
- ``rag``: red/amber/green health from schedule, cost, risk and customer signals;
- ``report_pdf``: the weekly status report rendered to PDF bytes.
"""
