"""The flows that cross aggregates: the coordinator, one module per flow, which no service imports.

- publishing: a campaign's lifecycle as it reaches the market (publishing opens its jobs and pool
  tasks on the market, ending closes them), and finishing a campaign once nothing is outstanding;
- reviewing: work handed in, reviewed or given back, then the quality rules and the campaigns it
  may have finished;
- storing: tasks uploaded, one or many, stored, and their operations ended, but for opening
  campaigns, which it hands on (the upload route loads it alone);
- uploading: the same whole, an operation's end opening its campaigns first when asked (open_pool);
- sweeping: the scheduled sweeps, which do all of the above for what is due.

The aggregate services (campaigns, market, pools, assignments, results, bulk) never call each
other back: they hand what a flow needs (a campaign that may be complete, an operation that
ended) to these modules. Nothing else in services/ imports them; the functions do, each only the
flows it serves: the campaigns function no longer loads the review and upload services (19 modules
fewer), the tasks functions no longer the review ones (12 fewer).
"""
