//! `authdesk accounts ...`: one account per customer.
//!
//! Must not: check an account's fields (the core does: names, IANA time zones), or delete
//! an account but through the engine (it revokes its connectors' tokens first).

use anyhow::Result;
use authdesk_core::NewAccount;

use super::Ctx;
use crate::cli::AccountsCmd;

pub fn run(ctx: &Ctx, cmd: AccountsCmd) -> Result<()> {
    let (desk, out) = (&ctx.desk, &ctx.out);
    match cmd {
        AccountsCmd::Create {
            name,
            id,
            description,
            timezone,
        } => out.account(&desk.create_account(NewAccount {
            id,
            name,
            description,
            timezone,
            ..Default::default()
        })?),
        AccountsCmd::List => out.accounts(&desk.list_accounts()?),
        AccountsCmd::Show { account_id } => {
            let account = desk.get_account(&account_id)?;
            let connectors = desk.list_account_connectors(Some(&account.id))?;
            out.account_detail(&account, &connectors)
        }
        AccountsCmd::Delete { account_id } => {
            let runner = ctx.runner()?;
            let engine = &runner.engine;
            let reports = runner.run(engine.delete_account(&account_id))?;
            out.account_deleted(&account_id, &reports)
        }
        AccountsCmd::Users { account_id } => out.users(&desk.list_account_users(&account_id)?),
        AccountsCmd::AddUser {
            account_id,
            username,
        } => out.users(&[desk.ensure_account_user(&account_id, &username)?]),
    }
}
