//! Attacks on ghostwire's promise that nobody does through it what the
//! server would refuse them. ghostwire runs every ALTER under its own
//! privileged account, so each attack is differential: the same statements
//! as the same restricted user, straight to the server and through
//! ghostwire, must get the same answers and leave every table alike.
//! A failure names the attack ("ATTACK SUCCEEDED [...]" when something
//! outside the user's own table changed).

mod common;

#[path = "attacks/world.rs"]
mod world;

#[path = "attacks/commands.rs"]
mod commands;
#[path = "attacks/helpers.rs"]
mod helpers;
#[path = "attacks/index_ddl.rs"]
mod index_ddl;
#[path = "attacks/privileges.rs"]
mod privileges;
#[path = "attacks/smuggling.rs"]
mod smuggling;
