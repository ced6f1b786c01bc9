"""crowdtask's command-line client: `crowdtask upload tasks.jsonl` sends tasks in bulk and follows them."""
