package graph

import (
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/graph/model"
)

func azureDeployment(d controlplane.AzureDeployment) *model.AzureDeployment {
	return &model.AzureDeployment{ID: d.ID, Deployment: d.Deployment, Model: d.Model, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func azureDeployments(list []controlplane.AzureDeployment) []*model.AzureDeployment {
	out := make([]*model.AzureDeployment, 0, len(list))
	for _, d := range list {
		out = append(out, azureDeployment(d))
	}
	return out
}
