"""Haul's AWS resources: one set of definitions for CloudFormation and the local bootstrap."""
