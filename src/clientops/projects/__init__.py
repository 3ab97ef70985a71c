"""Customer projects: plans, critical path, resources, cost and earned value, risks, hand-over."""
