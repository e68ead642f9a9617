"""Commands an operator runs day to day, with their own AWS credentials: status, approve/reject, destroy."""
