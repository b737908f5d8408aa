"""The gateway: the one public entry. Auth, limits, spreading and failover across predictors."""
