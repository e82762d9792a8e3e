// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IERC20Minimal {
    function transfer(address to, uint256 value) external returns (bool);
}

/// @title A contract that holds tokens and pays them out itself (a payment made by a contract, e.g. a smart wallet).
contract PayerContract {
    address public immutable owner;

    constructor() {
        owner = msg.sender;
    }

    function pay(address token, address to, uint256 value) external {
        require(msg.sender == owner, "only owner");
        require(IERC20Minimal(token).transfer(to, value), "transfer failed");
    }

    /// Two payments in one transaction: the watcher must record both logs (different log indexes).
    function payTwice(address token, address to, uint256 first, uint256 second) external {
        require(msg.sender == owner, "only owner");
        require(IERC20Minimal(token).transfer(to, first), "transfer failed");
        require(IERC20Minimal(token).transfer(to, second), "transfer failed");
    }
}
