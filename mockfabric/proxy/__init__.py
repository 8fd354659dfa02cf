"""`mockfabric proxy`: forward to the real service, check every exchange against the contract, record it."""
