"""The operations layer: the only place where the service's rules live.

The JSON API, the web pages, the webhooks, the CLI and the worker translate their input to
these functions and their results back; no view calls another view. Each takes a SQLAlchemy
Session, raises :class:`~grader.service.errors.APIError` for a refused request, and leaves
committing to its caller unless its docstring says otherwise.

- ``submissions``: taking answers in (a learner's next version), and which need (re-)sending;
- ``grades``: storing the grader's output; a grade as it stands, versions, audit trail;
- ``reviews``: claims, overrides, confirming a grade, grading a failed one by hand,
  retrying a failed grading;
- ``queue``: the review queue's filters, sort orders and keyset cursor;
- ``releases``: releasing grades to learners;
- ``regrades``: a regrade's dry run and its sending, as jobs the worker runs;
- ``calibrations``: reviewed grades as labels, an assignment's calibration and applying it;
- ``statistics``: counts and score distributions for the dashboard;
- ``platforms``: registering course platforms, their endpoints and signing secrets;
- ``standings``: every current submission with its grade as it stands, in pages;
- ``exports``: the gradebook, streamed;
- ``assignments``: finding an assignment;
- ``rubrics``: rubric files, stored versions, parsed rubrics;
- ``events``: the audit trail and the events course platforms hear of.
"""
