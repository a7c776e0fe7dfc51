//! Rolling images out with care (issue 15): in-VM validation and build
//! windows. (Soak, part 1, is `soak`.)

mod catalog;
mod validation;
mod window;
