//! The ARM front end: the Azure Resource Manager HTTP surface of SQL Managed Instance's Log
//! Replay Service, so that `az`, PowerShell and the SDKs work unchanged against the emulator.
